"""Printer models the tenants are built from: manufacturer, model and
realistic capabilities and defaults (reference §2.7, §2.8). Each call
returns fresh dicts, so printers never share mutable state."""

LAYOUTS = [
    "clockwiseFromTopLeft", "counterclockwiseFromTopLeft",
    "counterclockwiseFromTopRight", "clockwiseFromTopRight",
    "counterclockwiseFromBottomLeft", "clockwiseFromBottomLeft",
    "counterclockwiseFromBottomRight", "clockwiseFromBottomRight",
]
ORIENTATIONS = ["portrait", "landscape", "reverseLandscape", "reversePortrait"]
LETTER_SIZES = ["North America Letter", "North America Legal",
                "North America Executive", "A4", "A5"]
A4_SIZES = ["A4", "A5", "A6", "A3", "JIS B5", "North America Letter"]


def _caps(color, content_types, media_sizes, duplex=True, dpis=(600,),
          finishings=("none",), copies=999, input_bins=None, fit_pdf=True):
    return {
        "isColorPrintingSupported": color,
        "supportsFitPdfToPage": fit_pdf,
        "contentTypes": list(content_types),
        "isPageRangeSupported": True,
        "qualities": ["low", "medium", "high"],
        "dpis": list(dpis),
        "duplexModes": (["oneSided", "flipOnLongEdge", "flipOnShortEdge"]
                        if duplex else ["oneSided"]),
        "finishings": list(finishings),
        "mediaTypes": ["stationery", "transparency", "envelope", "labels"],
        "mediaSizes": list(media_sizes),
        "mediaColors": ["white"],
        "outputBins": ["top"],
        "colorModes": (["blackAndWhite", "grayscale", "color", "auto"]
                       if color else ["blackAndWhite", "grayscale"]),
        "inputBins": list(input_bins or ["auto", "tray-1", "tray-2",
                                         "manual"]),
        "collation": True,
        "scalings": ["auto", "shrinkToFit", "fill", "fit", "none"],
        "copiesPerJob": {"start": 1, "end": copies},
        "orientations": list(ORIENTATIONS),
        "feedOrientations": ["longEdgeFirst"],
        "pagesPerSheet": [1, 2, 4, 6, 9, 16],
        "multipageLayouts": list(LAYOUTS),
        "topMargins": [0, 4230],
        "bottomMargins": [0, 4230],
        "leftMargins": [0, 4230],
        "rightMargins": [0, 4230],
    }


def _defaults(caps, media_size, color, content_type="application/pdf"):
    return {
        "colorMode": "color" if color else "blackAndWhite",
        "contentType": content_type,
        "copiesPerJob": 1,
        "dpi": caps["dpis"][0],
        "duplexMode": "flipOnLongEdge" if len(caps["duplexModes"]) > 1
        else "oneSided",
        "finishings": ["none"],
        "fitPdfToPage": False,
        "inputBin": "auto",
        "mediaColor": "white",
        "mediaSize": media_size,
        "mediaType": "stationery",
        "multipageLayout": "clockwiseFromTopLeft",
        "orientation": "portrait",
        "outputBin": "top",
        "pagesPerSheet": 1,
        "quality": "medium",
        "scaling": "auto",
    }


def mono_laser():
    caps = _caps(False, ["application/pdf", "image/pwg-raster",
                         "application/PCLm"], LETTER_SIZES,
                 dpis=(600, 1200))
    return "HP", "LaserJet Enterprise M507dn", caps, \
        _defaults(caps, "North America Letter", False)


def color_mfp():
    caps = _caps(True, ["application/pdf", "application/oxps",
                        "image/pwg-raster", "image/urf"],
                 LETTER_SIZES + ["North America Ledger", "A3"],
                 dpis=(600, 1200),
                 finishings=("none", "staple", "punch", "stapleTopLeft",
                             "stapleDualLeft"),
                 input_bins=["auto", "tray-1", "tray-2", "tray-3",
                             "by-pass-tray"])
    return "Canon", "imageRUNNER ADVANCE DX C5840i", caps, \
        _defaults(caps, "North America Letter", True)


def production_mfp():
    caps = _caps(True, ["application/pdf", "application/oxps",
                        "image/pwg-raster"],
                 LETTER_SIZES + ["North America Ledger", "A3"],
                 dpis=(600, 1200, 2400),
                 finishings=("none", "staple", "punch", "saddleStitch",
                             "stapleTopLeft", "stapleDualLeft", "bind"))
    return "Xerox", "AltaLink C8155", caps, \
        _defaults(caps, "North America Letter", True)


def a4_color():
    caps = _caps(True, ["application/pdf", "image/pwg-raster",
                        "application/PCLm", "image/urf"], A4_SIZES,
                 copies=99)
    return "Brother", "HL-L8360CDW", caps, _defaults(caps, "A4", True)


def lab_laser():
    caps = _caps(False, ["application/pdf", "image/pwg-raster"],
                 LETTER_SIZES, dpis=(300, 600), copies=99,
                 finishings=("none", "staple"))
    return "Lexmark", "MS826de", caps, \
        _defaults(caps, "North America Letter", False)


def virtual_queue():
    caps = _caps(True, ["application/pdf", "application/oxps"],
                 LETTER_SIZES + ["A3"], dpis=(600,), fit_pdf=True)
    return "Contoso", "Secure Release Queue", caps, \
        _defaults(caps, "North America Letter", True)


def generic_pdf():
    """What a newly registered printer (POST /print/printers/create) starts
    with until its device reports its own: a plain PDF printer. The
    manufacturer and model are replaced by the registration's."""
    caps = _caps(True, ["application/pdf"],
                 ["North America Letter", "North America Legal", "A4", "A5"],
                 dpis=(300, 600), copies=99)
    return "Generic", "PDF Printer", caps, \
        _defaults(caps, "North America Letter", True)


MODELS = [mono_laser, color_mfp, production_mfp, a4_color, lab_laser]
