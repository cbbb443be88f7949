"""Small helpers used everywhere: errors, precision, threads, distributed runs."""
