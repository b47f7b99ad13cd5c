"""loanflow_ml: the credit model's training pipeline (generator, training, baselines, drift).

Developer tooling: never imported by Lambda code. The serving runtime is :mod:`loanflow.scoring`.
"""
