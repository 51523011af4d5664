# Plots for bench/run.sh; run in the results directory (gnuplot plot.gp).
# Inputs: startup-peers.dat, pod2.dat, exec.dat (index "name" median min max),
#         scale-starts.dat (N i ms), scale.dat (N median min max tailmedian podMB rm_ms_per_pod).
set terminal pngcairo size 1400,520 font "sans,10"
set output "startup.png"
set multiplot layout 1,3 title "sandbox vs peers: median (bar) and min–max (whiskers), ms, log scale — lower is better"
set style fill solid 0.6 border -1
set boxwidth 0.6
set logscale y
set grid ytics mytics
set xtics rotate by -35 left nomirror
set ylabel "ms"
set yrange [1:*]
set key off
set bmargin 9
set title "1. start → true → exit"
plot "startup-peers.dat" using 1:3:xtic(2) with boxes lc rgb "#4e79a7", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \
     "" using 1:($5*1.15):(sprintf("%.1f", $3)) with labels font ",9"
set title "2. two-container pod"
plot "pod2.dat" using 1:3:xtic(2) with boxes lc rgb "#f28e2b", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \
     "" using 1:($5*1.15):(sprintf("%.1f", $3)) with labels font ",9"
set title "3. exec true into a running pod"
plot "exec.dat" using 1:3:xtic(2) with boxes lc rgb "#59a14f", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \
     "" using 1:($5*1.15):(sprintf("%.1f", $3)) with labels font ",9"
unset multiplot

reset
set terminal pngcairo size 1200,480 font "sans,10"
set output "scale.png"
set multiplot layout 1,2 title "sandbox: N idle pods started one after another (sandbox run -d, busybox sleep infinity)"
set grid
set key top left
set title "start time of each pod vs pods already running"
set xlabel "pod number i (i-1 pods already running)"
set ylabel "sandbox run -d, ms"
set yrange [0:*]
plot "scale-starts.dat" using ($1==10?$2:1/0):3 with points pt 7 ps 0.5 lc rgb "#e15759" title "N=10", \
     "" using ($1==100?$2:1/0):3 with points pt 7 ps 0.4 lc rgb "#f28e2b" title "N=100", \
     "" using ($1==500?$2:1/0):3 with points pt 7 ps 0.3 lc rgb "#4e79a7" title "N=500"
set title "per-pod medians vs N"
set logscale x
set xlabel "N (pods)"
set xrange [5:1000]
set logscale y
set yrange [1:1000]
set key below
set ylabel "ms (start, rm per pod), MB (memory), log scale"
plot "scale.dat" using 1:2:3:4 with yerrorlines pt 7 lc rgb "#4e79a7" title "start per pod, median (min–max)", \
     "" using 1:5 with linespoints pt 5 lc rgb "#76b7b2" title "start, last 10% of pods, median", \
     "" using 1:7 with linespoints pt 9 lc rgb "#e15759" title "rm -f, ms per pod", \
     "" using 1:6 with linespoints pt 13 lc rgb "#59a14f" title "pause+supervisor PSS per pod, MB"
unset multiplot
