"""Report-guided synthesis (CCELLA prostate MRI): the Qt-free, torch-free pieces the plugin, the CLI, the
panel and the training code share — tokenisation, the diffusion schedule, the request/result types, the
synthesis runner (audited), the SYNTHETIC DICOM/NIfTI writers and a lesion-side check."""
