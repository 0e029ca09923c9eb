"""Report-guided 3D prostate T2 synthesis (CCELLA, phantom-trained, research use only)."""
