"""Evidence photos: the one pipeline every upload goes through, and the photo rows."""
