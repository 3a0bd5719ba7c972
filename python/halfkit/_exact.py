"""An independent oracle: correct rounding of a Python float to float16 or bfloat16 with exact
rational arithmetic (fractions.Fraction). Slow, so it judges samples."""

import math
from fractions import Fraction

FORMATS = {
    # name: (exponent bits, mantissa bits)
    "float16": (5, 10),
    "bfloat16": (8, 7),
}


def round_exact(x: float, fmt: str) -> int:
    e_bits, m_bits = FORMATS[fmt]
    bias = (1 << (e_bits - 1)) - 1
    sign = (1 << (e_bits + m_bits)) if math.copysign(1.0, x) < 0 else 0
    inf = ((1 << e_bits) - 1) << m_bits
    if math.isnan(x):
        raise ValueError("NaN has no rounding")
    if math.isinf(x):
        return sign | inf
    v = abs(Fraction(x))
    if v == 0:
        return sign
    # The binade holding |x| (subnormals share the lowest normal binade's ulp).
    e = max(math.frexp(x)[1] - 1, 1 - bias)
    ulp = Fraction(2) ** (e - m_bits)
    q, r = divmod(v, ulp)
    q = int(q)
    if r > ulp / 2 or (r == ulp / 2 and q & 1):
        q += 1
    # q counts ulps of binade e; turn it into the encoded bits.
    if e == 1 - bias and q < (1 << m_bits):
        return sign | q  # subnormal (or zero)
    enc = ((e + bias) << m_bits) + (q - (1 << m_bits))
    return sign | (enc if enc < inf else inf)
