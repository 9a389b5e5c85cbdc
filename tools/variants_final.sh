# Sourced by gpu_explore.sh (VARIANTS=tools/variants_final.sh): the run that trained the shipped
# WikiText-2 model (its SST-2 variants lost to variants_sst2_long.sh on held-out accuracy).
# The best variant per task is chosen by its held-out score only (tools/pick_best.py).
C="--lr 2e-3 --batch-size 128 --epochs 6 --dropout 0.2 --weight-decay 0.05 --ema-decay 0.998"
run sst2-s1 --task sst2 $C
run sst2-s2 --task sst2 $C --token-dropout 0.1
run sst2-s3 --task sst2 $C --set spiking_att_output=false
run sst2-s4 --task sst2 $C --vocab-size 8192
run sst2-s5 --task sst2 $C --set d_model=256 --set n_layers=3 --set d_ffn=1024
run sst2-s6 --task sst2 --lr 1e-3 --batch-size 64 --epochs 5 --dropout 0.1 --weight-decay 0.01 --ema-decay 0.999
L="--task wikitext2 --vocab-size 2048 --batch-size 32 --epochs 60 --weight-decay 0.1"
run wt2-l1 $L --lr 2e-3 --dropout 0.2 --ema-decay 0.999
run wt2-l2 $L --lr 3e-3 --dropout 0.3 --ema-decay 0.999
