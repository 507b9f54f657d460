"""Two-stage STARK training: criterion, optimiser set-up, checkpoints, DDP helpers and the trainer."""
