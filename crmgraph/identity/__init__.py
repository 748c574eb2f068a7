"""Identity: which records in which systems are the same customer.

The store keeps ids and match keys only, never business data: a golden customer id, the source records
linked to it (with the rule that linked them), and normalised keys for searching.
"""
