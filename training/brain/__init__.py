"""Brain-tumour segmentation (BraTS 2023 labels) on four-sequence MRI: data, model, training, evaluation."""
