# Sourced by gpu_explore.sh: one `run NAME ARGS...` per training variant.
run sst2-c --task sst2 --lr 2e-3 --batch-size 128 --epochs 4 --dropout 0.3 --weight-decay 0.05
run sst2-d --task sst2 --lr 3e-3 --batch-size 128 --epochs 4 --dropout 0.2 --weight-decay 0.05
run sst2-e --task sst2 --lr 2e-3 --batch-size 128 --epochs 4 --dropout 0.3 --weight-decay 0.05 --set spiking_att_output=false
run sst2-f --task sst2 --lr 1e-3 --batch-size 32 --epochs 3 --dropout 0.3 --weight-decay 0.05
run wt2-c --task wikitext2 --lr 2e-3 --batch-size 32 --epochs 40 --dropout 0.2 --weight-decay 0.1
run wt2-d --task wikitext2 --lr 2e-3 --batch-size 32 --epochs 40 --dropout 0.2 --weight-decay 0.1 --vocab-size 2048
run wt2-e --task wikitext2 --lr 2e-3 --batch-size 32 --epochs 40 --dropout 0.2 --weight-decay 0.1 --set spiking_att_output=false
run wt2-f --task wikitext2 --lr 1e-3 --batch-size 16 --epochs 40 --dropout 0.3 --weight-decay 0.1
