"""Brain-tumour segmentation on four-sequence MRI (BraTS 2023 labels; phantom-trained, research use only)."""
