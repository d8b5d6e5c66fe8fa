"""The trust list: which keys speak for which authority, agreed by a quorum of members."""
