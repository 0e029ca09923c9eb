"""Chest X-ray lung-nodule detection plugin (phantom-trained, research use only)."""
