# Sourced by gpu_explore.sh (VARIANTS=tools/variants_sst2_long.sh): the SST-2 recipe of
# variants_sst2.sh trained longer (held-out accuracy was still rising at epoch 6-8 there).
# Chosen by held-out accuracy only.
R="--task sst2 --vocab-size 8192 --lr 2e-3 --batch-size 128 --dropout 0.2 --weight-decay 0.05 --ema-decay 0.998 --token-dropout 0.1 --set zero_init_residual=true --set spiking_att_output=false"
for seed in 10 11 12 13 14; do run sst2-l$seed $R --epochs 12 --seed $seed; done
run sst2-ld15 $R --epochs 12 --seed 15 --dropout 0.3
run sst2-ld16 $R --epochs 12 --seed 16 --dropout 0.3
run sst2-llr17 $R --epochs 12 --seed 17 --lr 3e-3
run sst2-l18 $R --epochs 10 --seed 18
run sst2-l19 $R --epochs 10 --seed 19
