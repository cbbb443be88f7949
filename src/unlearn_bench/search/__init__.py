"""Hyperparameter searches (Optuna): trial states and the tuned configs they write."""
