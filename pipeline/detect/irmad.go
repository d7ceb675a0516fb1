package detect

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// ErrDegenerate is returned when the composites carry too little variation
// to estimate the canonical transformation (a tiny or uniform area).
var ErrDegenerate = errors.New("detect: degenerate statistics")

// moments accumulates weighted first and second moments of the stacked
// vector [before bands, after bands], shifted by a fixed centre for
// numerical stability. Sums run in a fixed pixel order, so results are
// reproducible bit for bit.
type moments struct {
	dim    int
	centre []float64
	sumW   float64
	sum    []float64 // dim
	outer  []float64 // dim × dim, upper triangle filled
	v      []float64 // scratch
}

func newMoments(dim int, centre []float64) *moments {
	m := &moments{dim: dim, centre: make([]float64, dim), sum: make([]float64, dim), outer: make([]float64, dim*dim), v: make([]float64, dim)}
	copy(m.centre, centre)
	return m
}

func (m *moments) add(w float64, x, y []float32) {
	n := len(x)
	for i := 0; i < n; i++ {
		m.v[i] = float64(x[i]) - m.centre[i]
		m.v[n+i] = float64(y[i]) - m.centre[n+i]
	}
	m.sumW += w
	for i, vi := range m.v {
		wi := w * vi
		m.sum[i] += wi
		row := m.outer[i*m.dim:]
		for j := i; j < m.dim; j++ {
			row[j] += wi * m.v[j]
		}
	}
}

// covariance returns the weighted mean and covariance.
func (m *moments) covariance() (mean []float64, cov *mat.SymDense) {
	mean = make([]float64, m.dim)
	for i := range mean {
		mean[i] = m.sum[i] / m.sumW
	}
	cov = mat.NewSymDense(m.dim, nil)
	for i := 0; i < m.dim; i++ {
		for j := i; j < m.dim; j++ {
			cov.SetSym(i, j, m.outer[i*m.dim+j]/m.sumW-mean[i]*mean[j])
		}
	}
	for i := range mean {
		mean[i] += m.centre[i]
	}
	return mean, cov
}

// madTransform is the result of one iteration of iteratively reweighted
// multivariate alteration detection (IR-MAD, Nielsen 2007): canonical
// vectors a_k, b_k for the before and after bands, the band means, and the
// variance 2(1-ρ_k) of each alteration variate a_k·x − b_k·y under no change.
type madTransform struct {
	n        int
	meanX    []float64
	meanY    []float64
	a, b     [][]float64 // [k][band]
	variance []float64
	rho      []float64
}

// varianceFloor keeps identical composites (ρ = 1) from dividing by zero.
const varianceFloor = 1e-9

// fitMAD solves the canonical correlation problem for the weighted moments.
func fitMAD(m *moments, n int) (*madTransform, error) {
	if m.sumW <= 0 {
		return nil, fmt.Errorf("%w: no pixels", ErrDegenerate)
	}
	mean, cov := m.covariance()
	sxx := mat.NewSymDense(n, nil)
	syy := mat.NewSymDense(n, nil)
	sxy := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if j >= i {
				sxx.SetSym(i, j, cov.At(i, j))
				syy.SetSym(i, j, cov.At(n+i, n+j))
			}
			sxy.Set(i, j, cov.At(i, n+j))
		}
	}
	var cx, cy mat.Cholesky
	if !cx.Factorize(sxx) || !cy.Factorize(syy) {
		return nil, fmt.Errorf("%w: band covariance is singular", ErrDegenerate)
	}
	// M = Sxy Syy⁻¹ Syx; solve M a = ρ² Sxx a through Sxx = LLᵀ:
	// C = L⁻¹ M L⁻ᵀ is symmetric, and a = L⁻ᵀ v for its eigenvectors v.
	var syyInvSyx mat.Dense
	if err := cy.SolveTo(&syyInvSyx, sxy.T()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDegenerate, err)
	}
	var mm mat.Dense
	mm.Mul(sxy, &syyInvSyx)
	var l mat.TriDense
	cx.LTo(&l)
	var linvM, c mat.Dense
	if err := linvM.Solve(&l, &mm); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDegenerate, err)
	}
	var tmp mat.Dense
	if err := tmp.Solve(&l, linvM.T()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDegenerate, err)
	}
	c.CloneFrom(tmp.T())
	cs := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			cs.SetSym(i, j, (c.At(i, j)+c.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cs, true) {
		return nil, fmt.Errorf("%w: eigen decomposition failed", ErrDegenerate)
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	var aAll mat.Dense
	if err := aAll.Solve(l.T(), &vecs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDegenerate, err)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return vals[order[i]] > vals[order[j]] })

	t := &madTransform{n: n, meanX: mean[:n], meanY: mean[n:], a: make([][]float64, n), b: make([][]float64, n), variance: make([]float64, n), rho: make([]float64, n)}
	for k, col := range order {
		a := make([]float64, n)
		for i := range a {
			a[i] = aAll.At(i, col)
		}
		// b = Syy⁻¹ Syx a, scaled to unit variance.
		b := make([]float64, n)
		for i := range b {
			for j := 0; j < n; j++ {
				b[i] += syyInvSyx.At(i, j) * a[j]
			}
		}
		vb := mat.Inner(mat.NewVecDense(n, b), syy, mat.NewVecDense(n, b))
		if vb <= 0 {
			return nil, fmt.Errorf("%w: zero canonical variance", ErrDegenerate)
		}
		s := 1 / math.Sqrt(vb)
		for i := range b {
			b[i] *= s
		}
		rho := math.Sqrt(math.Max(0, math.Min(1, vals[col])))
		t.a[k], t.b[k], t.rho[k] = a, b, rho
		t.variance[k] = math.Max(2*(1-rho), varianceFloor)
	}
	return t, nil
}

// chi2 is Σ_k (a_k·(x−x̄) − b_k·(y−ȳ))² / 2(1−ρ_k): under no change it
// follows a chi-square distribution with n degrees of freedom.
func (t *madTransform) chi2(x, y []float32) float64 {
	z := 0.0
	for k := 0; k < t.n; k++ {
		ak, bk := t.a[k], t.b[k]
		u := 0.0
		for i := 0; i < t.n; i++ {
			u += ak[i]*(float64(x[i])-t.meanX[i]) - bk[i]*(float64(y[i])-t.meanY[i])
		}
		z += u * u / t.variance[k]
	}
	return z
}

// noChangeWeight is the IR-MAD weight of a pixel: the probability of a
// chi-square value at least this large under no change.
func noChangeWeight(dist distuv.ChiSquared, z float64) float64 {
	return dist.Survival(z)
}
