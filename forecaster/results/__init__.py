"""What a trained forecaster is judged and used by: metrics, evaluation next to the baselines, the rolling
backtest, and forecasts."""
