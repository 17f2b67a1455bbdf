#include "hal/se050/curves.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "hal/se050/apdu.h"

struct curve_row {
    enum tok_curve curve;
    uint8_t se_id;
    size_t bytes;
    unsigned bits;
    int nid;
};

static const struct curve_row curves[] = {
    {TOK_CURVE_P256, SE_CURVE_P256, 32, 256, NID_X9_62_prime256v1},
    {TOK_CURVE_P384, SE_CURVE_P384, 48, 384, NID_secp384r1},
    {TOK_CURVE_P521, SE_CURVE_P521, 66, 521, NID_secp521r1},
};

static const struct curve_row *row_of(enum tok_curve curve)
{
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (curves[i].curve == curve)
            return &curves[i];
    return NULL;
}

uint8_t se_curve_id(enum tok_curve curve)
{
    const struct curve_row *r = row_of(curve);

    return r ? r->se_id : 0;
}

enum tok_curve se_curve_from_id(uint8_t id)
{
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (curves[i].se_id == id)
            return curves[i].curve;
    return TOK_CURVE_NONE;
}

size_t se_curve_bytes(enum tok_curve curve)
{
    const struct curve_row *r = row_of(curve);

    return r ? r->bytes : 0;
}

unsigned se_curve_bits(enum tok_curve curve)
{
    const struct curve_row *r = row_of(curve);

    return r ? r->bits : 0;
}

int se_curve_params(enum tok_curve curve, struct se_curve_params *out)
{
    const struct curve_row *r = row_of(curve);
    EC_GROUP *g = NULL;
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new();
    int ok = -1;

    memset(out, 0, sizeof *out);
    if (r == NULL || p == NULL || a == NULL || b == NULL)
        goto out;
    g = EC_GROUP_new_by_curve_name(r->nid);
    if (g == NULL || !EC_GROUP_get_curve(g, p, a, b, NULL))
        goto out;
    out->field_len = r->bytes;
    out->order_len = r->bytes;
    if (BN_bn2binpad(p, out->prime, (int)r->bytes) < 0 ||
        BN_bn2binpad(a, out->a, (int)r->bytes) < 0 ||
        BN_bn2binpad(b, out->b, (int)r->bytes) < 0 ||
        BN_bn2binpad(EC_GROUP_get0_order(g), out->order, (int)r->bytes) < 0)
        goto out;
    out->g_len = EC_POINT_point2oct(g, EC_GROUP_get0_generator(g),
                                    POINT_CONVERSION_UNCOMPRESSED, out->g, sizeof out->g, NULL);
    if (out->g_len != 1 + 2 * r->bytes)
        goto out;
    ok = 0;
out:
    EC_GROUP_free(g);
    BN_free(p);
    BN_free(a);
    BN_free(b);
    return ok;
}
