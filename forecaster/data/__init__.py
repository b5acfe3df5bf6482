"""What the user brings, read and cleaned: a CSV into the daily panel (dates x products), and the demo data."""
