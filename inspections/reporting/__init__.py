"""The county's and towns' dashboard and rankings (红黑榜), read from the other sub-packages."""
