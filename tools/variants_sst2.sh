# Sourced by gpu_explore.sh (VARIANTS=tools/variants_sst2.sh): SST-2 recipe from the CPU runs
# (vocab 8192, RWKV zero-init residual branches, EMA weights, token dropout, float time-mix
# output input) over seeds and a few neighbours. Chosen by held-out accuracy only.
R="--task sst2 --vocab-size 8192 --lr 2e-3 --batch-size 128 --dropout 0.2 --weight-decay 0.05 --ema-decay 0.998 --token-dropout 0.1 --set zero_init_residual=true --set spiking_att_output=false"
for seed in 0 1 2 3 4; do run sst2-r$seed $R --epochs 6 --seed $seed; done
run sst2-r8e $R --epochs 8 --seed 5
run sst2-rdo3 $R --epochs 6 --seed 6 --dropout 0.3
run sst2-rlr3 $R --epochs 6 --seed 7 --lr 3e-3
run sst2-rspk $R --epochs 6 --seed 8 --set spiking_att_output=true
run sst2-rv4k $R --epochs 6 --seed 9 --vocab-size 4096
