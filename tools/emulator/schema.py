"""What the Graph schema says about each type: its property names (for
$select), its expandable navigations, and the enum members that come before
the `unknownFutureValue` sentinel (for `Prefer: include-unknown-enum-members`).
"""

PRINTER_BASE = (
    "id", "displayName", "manufacturer", "model", "isAcceptingJobs",
    "status", "location", "defaults", "capabilities",
)

# printUsage (reference §2.23), the base of the four report collections.
PRINT_USAGE = (
    "id", "usageDate", "blackAndWhitePageCount", "colorPageCount",
    "completedBlackAndWhiteJobCount", "completedColorJobCount",
    "completedJobCount", "doubleSidedSheetCount", "incompleteJobCount",
    "mediaSheetCount", "pageCount", "singleSidedSheetCount",
)

# archivedPrintJob (a complex type): v1.0, then what beta adds.
ARCHIVED_PRINT_JOB = (
    "id", "acquiredByPrinter", "acquiredDateTime", "completionDateTime",
    "copiesPrinted", "createdBy", "createdDateTime", "printerId",
    "printerName", "processingState",
)
ARCHIVED_PRINT_JOB_BETA = (
    "pageCount", "blackAndWhitePageCount", "colorPageCount",
    "simplexPageCount", "duplexPageCount",
)

PROPERTIES = {
    "printer": PRINTER_BASE + (
        "hasPhysicalDevice", "isShared", "registeredDateTime",
        "lastSeenDateTime", "jobs", "shares", "connectors", "taskTriggers",
    ),
    "printerShare": PRINTER_BASE + (
        "allowAllUsers", "createdDateTime", "viewPoint", "jobs", "printer",
        "allowedUsers", "allowedGroups",
    ),
    "printJob": (
        "id", "createdDateTime", "createdBy", "status", "configuration",
        "isFetchable", "redirectedFrom", "redirectedTo",
        "acknowledgedDateTime", "errorCode", "documents", "tasks",
    ),
    "printDocument": (
        "id", "displayName", "contentType", "size", "uploadedDateTime",
        "downloadedDateTime",
    ),
    "printConnector": (
        "id", "displayName", "fullyQualifiedDomainName", "operatingSystem",
        "appVersion", "registeredDateTime", "location",
    ),
    "printService": ("id", "endpoints"),
    "printServiceEndpoint": ("id", "displayName", "uri"),
    "printOperation": (
        "id", "createdDateTime", "status", "certificate", "printer",
    ),
    "user": (
        "id", "displayName", "givenName", "surname", "userPrincipalName",
        "mail", "jobTitle", "officeLocation", "businessPhones",
        "mobilePhone", "preferredLanguage",
    ),
    "group": (
        "id", "displayName", "description", "mail", "mailEnabled",
        "mailNickname", "securityEnabled", "groupTypes", "createdDateTime",
    ),
    "printTaskDefinition": ("id", "displayName", "createdBy", "tasks"),
    "printTask": ("id", "parentUrl", "status", "definition", "trigger"),
    "printTaskTrigger": ("id", "event", "definition"),
    "printUsageByPrinter": PRINT_USAGE + ("printerId", "printerName"),
    "printUsageByUser": PRINT_USAGE + ("userPrincipalName",),
    "archivedPrintJob": ARCHIVED_PRINT_JOB + ARCHIVED_PRINT_JOB_BETA,
}

# Navigations each type accepts in $expand (what the emulator can inline).
EXPANDABLE = {
    "printer": ("shares", "connectors"),
    "printerShare": ("printer", "allowedUsers", "allowedGroups"),
    "printJob": ("documents", "tasks"),
    "printService": ("endpoints",),
    "printOperation": ("printer",),
    "printTaskDefinition": ("tasks",),
    "printTask": ("definition", "trigger"),
    "printTaskTrigger": ("definition",),
}

# printerProcessingStateDetail members up to and including the sentinel
# (reference Appendix A). Anything else is only sent with the Prefer header.
PRINTER_DETAILS_BEFORE_SENTINEL = frozenset((
    "paused", "mediaJam", "mediaNeeded", "mediaLow", "mediaEmpty",
    "coverOpen", "interlockOpen", "outputTrayMissing", "outputAreaFull",
    "markerSupplyLow", "markerSupplyEmpty", "inputTrayMissing",
    "outputAreaAlmostFull", "markerWasteAlmostFull", "markerWasteFull",
    "fuserOverTemp", "fuserUnderTemp", "other", "none", "movingToPaused",
    "shutdown", "connectingToDevice", "timedOut", "stopping",
    "stoppedPartially", "tonerLow", "tonerEmpty", "spoolAreaFull",
    "doorOpen", "opticalPhotoConductorNearEndOfLife",
    "opticalPhotoConductorLifeOver", "developerLow", "developerEmpty",
    "interpreterResourceUnavailable", "unknownFutureValue",
))

# printFinishing members up to and including the sentinel (reference §2.24).
FINISHINGS_BEFORE_SENTINEL = frozenset((
    "none", "staple", "punch", "cover", "bind", "saddleStitch", "stitchEdge",
    "stapleTopLeft", "stapleBottomLeft", "stapleTopRight",
    "stapleBottomRight", "stitchLeftEdge", "stitchTopEdge",
    "stitchRightEdge", "stitchBottomEdge", "stapleDualLeft",
    "stapleDualTop", "stapleDualRight", "stapleDualBottom",
    "unknownFutureValue",
))


def evolvable(values, known):
    """values with every member after the sentinel replaced by
    unknownFutureValue (once), as the service does without the Prefer."""
    if not values:
        return values
    out = []
    for value in values:
        if value not in known:
            value = "unknownFutureValue"
        if value not in out:
            out.append(value)
    return out


# printJobConfiguration members with an enum type (reference §2.24), for
# validating job creation: a value outside these is not a member at all.
FINISHINGS_AFTER_SENTINEL = frozenset((
    "stapleTripleLeft", "stapleTripleTop", "stapleTripleRight",
    "stapleTripleBottom", "bindLeft", "bindTop", "bindRight", "bindBottom",
    "foldAccordion", "foldDoubleGate", "foldGate", "foldHalf", "foldHalfZ",
    "foldLeftGate", "foldLetter", "foldParallel", "foldPoster",
    "foldRightGate", "foldZ", "foldEngineeringZ", "punchTopLeft",
    "punchBottomLeft", "punchTopRight", "punchBottomRight", "punchDualLeft",
    "punchDualTop", "punchDualRight", "punchDualBottom", "punchTripleLeft",
    "punchTripleTop", "punchTripleRight", "punchTripleBottom",
    "punchQuadLeft", "punchQuadTop", "punchQuadRight", "punchQuadBottom",
    "fold", "trim", "bale", "bookletMaker", "coat", "laminate",
    "trimAfterPages", "trimAfterDocuments", "trimAfterCopies",
    "trimAfterJob",
))

CONFIG_ENUMS = {
    # member: (enum type name, members, capability list naming the
    #          printer's supported values)
    "colorMode": ("printColorMode", frozenset((
        "blackAndWhite", "grayscale", "color", "auto",
        "unknownFutureValue")), "colorModes"),
    "duplexMode": ("printDuplexMode", frozenset((
        "flipOnLongEdge", "flipOnShortEdge", "oneSided",
        "unknownFutureValue")), "duplexModes"),
    "feedOrientation": ("printerFeedOrientation", frozenset((
        "longEdgeFirst", "shortEdgeFirst", "unknownFutureValue")),
        "feedOrientations"),
    "orientation": ("printOrientation", frozenset((
        "portrait", "landscape", "reverseLandscape", "reversePortrait",
        "unknownFutureValue")), "orientations"),
    "quality": ("printQuality", frozenset((
        "low", "medium", "high", "unknownFutureValue")), "qualities"),
    "scaling": ("printScaling", frozenset((
        "auto", "shrinkToFit", "fill", "fit", "none",
        "unknownFutureValue")), "scalings"),
    "multipageLayout": ("printMultipageLayout", frozenset((
        "clockwiseFromTopLeft", "counterclockwiseFromTopLeft",
        "counterclockwiseFromTopRight", "clockwiseFromTopRight",
        "counterclockwiseFromBottomLeft", "clockwiseFromBottomLeft",
        "counterclockwiseFromBottomRight", "clockwiseFromBottomRight",
        "unknownFutureValue")), "multipageLayouts"),
    "finishings": ("printFinishing", FINISHINGS_BEFORE_SENTINEL |
                   FINISHINGS_AFTER_SENTINEL, "finishings"),
}

# String members checked against a capability list; Int32 members checked
# against a list (dpi, pagesPerSheet) or a range (copies).
CONFIG_STRINGS = {"inputBin": "inputBins", "outputBin": "outputBins",
                  "mediaSize": "mediaSizes", "mediaType": "mediaTypes"}
CONFIG_INT_LISTS = {"dpi": "dpis", "pagesPerSheet": "pagesPerSheet"}
MARGIN_SIDES = {"top": "topMargins", "bottom": "bottomMargins",
                "left": "leftMargins", "right": "rightMargins"}


# --- directory objects of GET /me/memberOf (graph_directory.py) ------------

PROPERTIES["directoryRole"] = (
    "id", "deletedDateTime", "displayName", "description", "roleTemplateId",
)
# A collection of directoryObjects (memberOf) takes $select of the
# properties of the types it holds, as Graph does.
PROPERTIES["directoryObject"] = tuple(dict.fromkeys(
    PROPERTIES["group"] + PROPERTIES["directoryRole"]))


# --- printer properties the write side checks (reference §2.7-§2.10) -------

PRINTER_STATES = frozenset(("unknown", "idle", "processing", "stopped",
                            "unknownFutureValue"))

# printerDefaults member -> (kind, capability it must be listed in).
# kind: "enum:<CONFIG_ENUMS key>", "str", "int", "bool", "range", "enums".
DEFAULTS = {
    "colorMode": ("enum:colorMode", "colorModes"),
    "contentType": ("str", "contentTypes"),
    "copiesPerJob": ("range", "copiesPerJob"),
    "dpi": ("int", "dpis"),
    "duplexMode": ("enum:duplexMode", "duplexModes"),
    "finishings": ("enums", "finishings"),
    "fitPdfToPage": ("bool", "supportsFitPdfToPage"),
    "inputBin": ("str", "inputBins"),
    "mediaColor": ("str", "mediaColors"),
    "mediaSize": ("str", "mediaSizes"),
    "mediaType": ("str", "mediaTypes"),
    "multipageLayout": ("enum:multipageLayout", "multipageLayouts"),
    "orientation": ("enum:orientation", "orientations"),
    "outputBin": ("str", "outputBins"),
    "pagesPerSheet": ("int", "pagesPerSheet"),
    "quality": ("enum:quality", "qualities"),
    "scaling": ("enum:scaling", "scalings"),
}

# printerCapabilities member -> kind: "bool", "strs", "ints", "range", or
# "enums:<CONFIG_ENUMS key>" (a list of that enum's members).
CAPABILITIES = {
    "bottomMargins": "ints", "collation": "bool",
    "colorModes": "enums:colorMode", "contentTypes": "strs",
    "copiesPerJob": "range", "dpis": "ints",
    "duplexModes": "enums:duplexMode",
    "feedOrientations": "enums:feedOrientation",
    "finishings": "enums:finishings", "inputBins": "strs",
    "isColorPrintingSupported": "bool", "isPageRangeSupported": "bool",
    "leftMargins": "ints", "mediaColors": "strs", "mediaSizes": "strs",
    "mediaTypes": "strs", "multipageLayouts": "enums:multipageLayout",
    "orientations": "enums:orientation", "outputBins": "strs",
    "pagesPerSheet": "ints", "qualities": "enums:quality",
    "rightMargins": "ints", "scalings": "enums:scaling",
    "supportsFitPdfToPage": "bool", "topMargins": "ints",
}

# printerLocation member -> kind: "str", "digits" (a string of digits: the
# docs say floor and roomName take only numbers for now), "int",
# "number", "strs".
LOCATION = {
    "altitudeInMeters": "int", "building": "str", "city": "str",
    "countryOrRegion": "str", "floor": "digits", "floorDescription": "str",
    "latitude": "number", "longitude": "number", "organization": "strs",
    "postalCode": "str", "roomDescription": "str", "roomName": "digits",
    "site": "str", "stateOrProvince": "str", "streetAddress": "str",
    "subdivision": "strs", "subunit": "strs",
}
