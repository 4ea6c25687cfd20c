"""Enrich: what the text itself says about its sources and dates (attributions, cited outlets, dates)."""
