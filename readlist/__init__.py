"""readlist: Hugging Face Papers listings and arXiv IDs to BibTeX and Zotero."""

__version__ = "0.1.0"
