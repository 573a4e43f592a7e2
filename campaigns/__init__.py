"""Campaigns: callback tickets now; the outbound dialler (lists, pacing, gate) as it arrives."""
