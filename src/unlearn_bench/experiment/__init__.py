"""One experiment: data and models, the method's context, scoring, the record; single, sequential and evaluate-only runs."""
