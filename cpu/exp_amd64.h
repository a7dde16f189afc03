// EXP_POLY sets Y8 = e^y, four float64 lanes, for the y in Y5 (within the
// range the caller has clamped it to, where 2^k is a normal number): as
// expPoly (tanh.go) with FMA, y = k·ln2 + r (k in Y6, r in Y7), e^r by its
// Taylor series to r¹² (Horner's rule), 2^k put into the exponent. OFF is
// the offset from AX of the constants, 32 bytes apart: log2e, ln2's high
// and low parts, 1/12! … 1/2!, 1, and 1.5·2⁵² + 1023 (the exponent trick).
// Used by the tanh, sigmoid and softmax-exponential kernels.
#define EXP_POLY(OFF) \
	VMULPD  OFF(AX), Y5, Y6; \
	VROUNDPD $0, Y6, Y6; \
	VMOVAPD Y5, Y7; \
	VFNMADD231PD (OFF+32)(AX), Y6, Y7; \
	VFNMADD231PD (OFF+64)(AX), Y6, Y7; \
	VMOVUPD (OFF+96)(AX), Y8; \
	VFMADD213PD (OFF+128)(AX), Y7, Y8; \
	VFMADD213PD (OFF+160)(AX), Y7, Y8; \
	VFMADD213PD (OFF+192)(AX), Y7, Y8; \
	VFMADD213PD (OFF+224)(AX), Y7, Y8; \
	VFMADD213PD (OFF+256)(AX), Y7, Y8; \
	VFMADD213PD (OFF+288)(AX), Y7, Y8; \
	VFMADD213PD (OFF+320)(AX), Y7, Y8; \
	VFMADD213PD (OFF+352)(AX), Y7, Y8; \
	VFMADD213PD (OFF+384)(AX), Y7, Y8; \
	VFMADD213PD (OFF+416)(AX), Y7, Y8; \
	VFMADD213PD (OFF+448)(AX), Y7, Y8; \
	VFMADD213PD (OFF+448)(AX), Y7, Y8; \
	VADDPD  (OFF+480)(AX), Y6, Y6; \
	VPSLLQ  $52, Y6, Y6; \
	VMULPD  Y6, Y8, Y8
