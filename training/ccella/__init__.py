"""CCELLA: prompt-guided latent diffusion with predictive class conditioning for 3D prostate MRI
(Grabke, Taati, Haider, arXiv 2506.10230), scaled to CPU training on the prostate phantoms."""
