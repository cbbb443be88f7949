"""Grids (--multirun): their size, plan, time estimate, preview, folder and guard."""
