"""Use cases on Stores (inventory, load, copy, prune, re-export, gc). No UI code here."""
