"""Signals of the bmp app; higher apps (jumelages) listen, so bmp never imports them."""

from django.dispatch import Signal

# Sent by the nightly refresh inside its transaction, after the BMP rows are written and
# only when the file is applied (never on a dry run). Keyword arguments:
#   campagne  – the Campagne refreshed
#   changed   – ids of BMPs whose hours changed (same school and discipline)
#   withdrawn – ids of BMPs withdrawn (absent from the file, or superseded by a change
#               of school or discipline)
#   restored  – ids of withdrawn BMPs present again
#   touched   – a dict the receivers fill with what they touched, e.g.
#               {"demandes": [ids], "jumelages": [ids]}; it is stored in the ImportRun
#               and printed in the summary.
bmps_refreshed = Signal()
