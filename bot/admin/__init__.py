"""Library administration: adding, describing and removing dance clips, and the starter library."""
