"""From the daily panel to a trained forecaster: features, windows, the training loop, the inference
object, the recommendation, the baselines it blends with, and calibrated intervals."""
