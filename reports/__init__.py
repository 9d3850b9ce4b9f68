"""Degradation reports: read run directories (manifest + Arrow traces), render HTML, JUnit and Markdown."""
