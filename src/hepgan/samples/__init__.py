"""Physics samples made with Pythia 8 + FastJet, and analytic toys."""
