# kiln-native and nativesdk-kiln link libdeflate; meta-oe's recipe builds it
# for the target only. (BitBake ignores a variant named twice.)
BBCLASSEXTEND:append = " native nativesdk"
