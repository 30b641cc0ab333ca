"""``relight ui``: the browser page (Gradio), its back end and its server.

`service.RelightService` is the page's logic with no web dependency (tested alone); `page.build_page` lays
it out in Gradio Blocks; `server.serve` runs it until Ctrl-C. Gradio comes with the ``ui`` extra
(``pip install "relightcli[ui]"``), so only `service` imports without it.
"""
