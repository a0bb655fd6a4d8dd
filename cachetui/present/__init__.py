"""Text both front ends show: sizes, ages and plan descriptions.

Lives below ``cli/`` and ``tui/`` so neither imports the other; free of Textual and argparse.
"""
