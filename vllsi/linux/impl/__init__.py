"""Linux implementations of the portable modules (``vllsi.<mod>`` -> ``impl.<mod>``)."""
