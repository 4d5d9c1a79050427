"""The rigging command-line interface."""
