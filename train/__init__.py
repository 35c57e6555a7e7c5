"""Training: corpus, datasets, losses, trainers, checkpoints and DDP."""
