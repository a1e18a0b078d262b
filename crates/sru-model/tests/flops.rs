//! The FLOPs formula of `sru_model::flops` against a count of the products the built model
//! actually has: every 2-D weight of its state_dict is one product per token (2 · rows · cols
//! FLOPs), except the input embedding tables (lookups); a Transformer-XL's position
//! projection `r_net` runs over K = mem_len + L positions per segment of L tokens, and its
//! 2-D global biases `r_w_bias` / `r_r_bias` are additions, not products.

use burn::backend::Flex;
use sru_model::flops::{RECURRENCE_FLOPS, per_token};
use sru_model::{ModelConfig, preset, weights};

fn counted_products(config: &ModelConfig, unroll: usize) -> f64 {
    let model = config.init::<Flex>(&Default::default()).unwrap();
    let dict = weights::state_dict(&model).unwrap();
    let k = config.as_transformer_xl().map_or(0, |t| t.mem_len + unroll) as f64;
    dict.iter()
        .filter(|(name, data)| {
            data.shape.len() == 2 && !name.ends_with("r_w_bias") && !name.ends_with("r_r_bias")
        })
        .filter(|(name, _)| {
            *name != "embedding_layer.weight" && *name != "word_emb.emb_layers.0.weight"
        })
        .map(|(name, data)| {
            let flops = 2.0 * (data.shape[0] * data.shape[1]) as f64;
            if name.ends_with("r_net.weight") {
                flops * k / unroll as f64
            } else {
                flops
            }
        })
        .sum()
}

#[test]
fn srupp_products_are_the_model_weights() {
    for every in [1, 2, 5] {
        let mut c = preset("small").unwrap();
        c.as_srupp_mut().unwrap().attention_every_n_layers = every;
        let f = per_token(&c, 128);
        assert!(
            (f.products - counted_products(&c, 128)).abs() < 1e-6,
            "every {every}"
        );
        let attention_layers = (0..4)
            .filter(|i| c.as_srupp().unwrap().srupp().has_attention(*i))
            .count() as f64;
        // q kᵀ and P v over memory (the previous segment) + segment
        assert_eq!(f.attention, attention_layers * 4.0 * 64.0 * 256.0);
        assert_eq!(f.recurrence, 4.0 * RECURRENCE_FLOPS * 256.0);
        assert_eq!(
            f.training(),
            3.0 * (f.products + f.attention) + f.recurrence
        );
    }
}

#[test]
fn transformer_xl_products_are_the_model_weights() {
    for (mem_len, unroll) in [(128, 128), (32, 96), (0, 16)] {
        let mut c = preset("txl-small").unwrap();
        c.as_transformer_xl_mut().unwrap().mem_len = mem_len;
        let f = per_token(&c, unroll);
        let counted = counted_products(&c, unroll);
        assert!(
            (f.products - counted).abs() < 1e-6 * counted,
            "{} vs {counted}",
            f.products
        );
        // AC, BD and P v over K = mem_len + L keys, 4 layers of 4 heads of 24
        assert_eq!(f.attention, 4.0 * 6.0 * 96.0 * (mem_len + unroll) as f64);
        assert_eq!(f.recurrence, 0.0);
    }
}
