"""Analyses over scored demandes and attributions: the CIL's periodic evaluation and
location voulue (rank of each applicant for an advertised dwelling)."""
