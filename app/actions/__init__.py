"""GUI actions: the one command registry that menus, toolbar and shortcuts use, and the commands of the
viewer and the editing tools registered in it."""
