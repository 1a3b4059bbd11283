"""Training: pose-to-image pix2pix (booth checkpoint, per-visitor fine-tune under a budget).

Modules: ``networks`` (U-Net + PatchGAN), ``losses``, ``model`` (Lightning module),
``data`` (session shards -> in-memory tensors), ``metrics`` (SSIM / MS-SSIM / PSNR),
``checkpoint`` (safetensors + typed hyperparameters), ``finetune`` and ``base``.
"""
