"""What leaves the process: saved runs (weights plus JSON), formula-safe CSV, and Plotly figures."""
