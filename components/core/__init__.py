"""Building blocks every pattern uses, with the Well-Architected defaults of defaults.py."""
