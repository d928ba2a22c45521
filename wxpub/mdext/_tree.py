"""Small ElementTree helpers shared by the extensions (ElementTree has no parent pointers)."""

from __future__ import annotations

import xml.etree.ElementTree as etree


def parent_map(root: etree.Element) -> dict[etree.Element, etree.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def unwrap(element: etree.Element, parent: etree.Element) -> None:
    """Replace `element` by its text and children, keeping its tail."""
    index = list(parent).index(element)
    children = list(element)
    text = element.text or ""
    tail = element.tail or ""
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        before = parent[index - 1]
        before.tail = (before.tail or "") + text
    parent.remove(element)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)
    if children:
        last = children[-1]
        last.tail = (last.tail or "") + tail
    elif index == 0:
        parent.text = (parent.text or "") + tail
    else:
        before = parent[index - 1]
        before.tail = (before.tail or "") + tail


def text_of(element: etree.Element) -> str:
    return "".join(element.itertext()).strip()
