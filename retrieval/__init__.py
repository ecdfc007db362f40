"""Retrieval: encoder, case and expert indexes, lexical matching, ranking and the decision policy."""
