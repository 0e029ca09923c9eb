"""One analysis path for the window and the CLI (3D Slicer's Logic, used by the Widget and by scripts): the
study's series are matched to a plugin's input roles, loaded, run through the AI runtime (suitability,
domain, plausibility, audit) and exported (result.json, SR, SEG, PDF). `sightline analyze` and the AI panel
both call it."""
