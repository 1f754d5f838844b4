# meta-oe's jansson extends to native only; nativesdk-kiln needs it too.
# (BitBake ignores a variant named twice.)
BBCLASSEXTEND:append = " native nativesdk"
